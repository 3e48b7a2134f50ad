import { OpenAPIHono, z } from "@hono/zod-openapi";
import { SESSION } from "../auth/access";
import { tooLarge, updateProfile } from "../auth/account/profile";
import type { AppEnv } from "../context";
import { SUPPORTED_LOCALES } from "../i18n/locales";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import { issue, json, localeField, sentence, UserSchema } from "./schemas";
export function profileRoutes() {
  /** A browser form with no file chosen sends an empty, unnamed file part: that means "no avatar". */
  const noFileChosen = (v: unknown) => (v instanceof File && v.size === 0 && v.name === "" ? undefined : v);
  const blankAsMissing = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

  const UpdateProfileForm = z
    .object({
      full_name: z
        .string({ error: issue("validation.full_name_text") })
        .trim()
        .min(1, issue("validation.full_name_required"))
        .max(100, issue("validation.full_name_too_long"))
        .optional()
        .openapi({ example: "Ada Lovelace", description: "1 to 100 characters after trimming" }),
      avatar: z.preprocess(noFileChosen, z.instanceof(File, { message: issue("validation.avatar_file") }).optional()).openapi({
        type: "string",
        format: "binary",
        // The setting's upper bound (src/config.ts): true in every deployment.
        maxLength: 50 * 1024 * 1024,
        description:
          "PNG, JPEG or WebP, at most AVATAR_MAX_BYTES (default 5 MiB, never above 50 MiB); the type is read from the bytes; animated images keep their first frame",
      }),
      email: z
        .preprocess(
          blankAsMissing,
          z
            .string({ error: issue("validation.email_text") })
            .max(255)
            .optional(),
        )
        .openapi({
          type: "string",
          maxLength: 255,
          example: "ada@example.com",
          description: "Optional; must be the logged-in user's email (it never selects the user)",
        }),
      locale: z.preprocess(blankAsMissing, localeField.optional()).openapi({
        type: "string",
        enum: [...SUPPORTED_LOCALES],
        example: "hi",
        description: "The language of the account's mails (docs/languages.md)",
      }),
    })
    .openapi("UpdateProfileRequest");

  const EXAMPLE_AVATAR = "https://avatars.example.com/avatars/3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90/9b2e4f0c6a1d47e8b3c5d7f9a1b2c3d4";
  const EXAMPLE_SIZES = { "512": `${EXAMPLE_AVATAR}-512.webp`, "128": `${EXAMPLE_AVATAR}-128.webp` };

  const AvatarSizesSchema = z.record(z.string().max(4), z.string().max(2048)).openapi({
    maxProperties: 4,
    description:
      "Only when this request stored a new avatar: the URL of each standard size (AVATAR_SIZES), by size in px. `user.avatar` is the first (main) size.",
    example: EXAMPLE_SIZES,
  });

  const ProfileResponseSchema = z
    .object({ status: z.literal("success"), message: sentence(), user: UserSchema, avatar_sizes: AvatarSizesSchema.optional() })
    .openapi("ProfileResponse", {
      example: {
        status: "success",
        message: t("en", "success.profile_updated"),
        user: {
          id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
          full_name: "Ada Lovelace",
          email: "ada@example.com",
          role: "student",
          avatar: EXAMPLE_SIZES["512"],
          email_verified: true,
          requested_role: null,
          locale: "hi",
        },
        avatar_sizes: EXAMPLE_SIZES,
      },
    });

  const updateProfileRoute = route({
    method: "post",
    path: "/update-profile",
    tags: ["Profile"],
    summary: "Change the caller's name, avatar and/or language",
    description:
      "At least one of full_name, avatar and locale (the language of the account's mails, docs/languages.md). The avatar's type is decided by its bytes (PNG, JPEG, WebP); images above AVATAR_MAX_SIDE px on a side or AVATAR_MAX_PIXELS in all are refused (413 image_too_large_pixels) before decoding. Every accepted avatar is decoded, turned upright (EXIF orientation), cropped square (AVATAR_FIT=cover) or fitted, and re-encoded (AVATAR_FORMAT) without metadata at each of AVATAR_SIZES by Cloudflare Images; they are stored in S3-compatible storage, `user.avatar` becomes the public URL of the first size and `avatar_sizes` lists them all.",
    limit: "RL_DEFAULT",
    auth: SESSION,
    multipart: { maxFileBytes: (c) => c.AVATAR_MAX_BYTES, tooLarge },
    errors: [
      "email_mismatch",
      "unsupported_image_type",
      "image_too_large_pixels",
      "image_processing_unavailable",
      "storage_error",
      "storage_unavailable",
    ],
    request: {
      body: { content: { "multipart/form-data": { schema: UpdateProfileForm } }, required: true, description: "The changes" },
    },
    responses: { 200: json(ProfileResponseSchema, "Profile updated") },
  });

  return new OpenAPIHono<AppEnv>().openapi(updateProfileRoute, async (c) => {
    const form = c.req.valid("form");
    const deps = c.get("deps");
    const max = deps.config.AVATAR_MAX_BYTES;
    if (form.avatar && form.avatar.size > max) throw tooLarge(max);
    const avatar = form.avatar ? { bytes: new Uint8Array(await form.avatar.arrayBuffer()) } : undefined;
    const { user, avatarSizes } = await updateProfile(deps, c.get("meta"), c.get("auth"), {
      fullName: form.full_name,
      avatar,
      email: form.email,
      locale: form.locale,
    });
    const sizes = avatarSizes ? { avatar_sizes: avatarSizes } : {};
    return c.json({ status: "success" as const, message: say(c, "success.profile_updated"), user, ...sizes }, 200);
  });
}
