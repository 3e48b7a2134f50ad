import { render } from "preact";
import { App } from "./app";
import { locale } from "./i18n";

document.documentElement.lang = locale;
render(<App />, document.getElementById("app")!);
