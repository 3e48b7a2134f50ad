/** Types for mail-capture.mjs (the local stand-in for the Resend API). */
export interface CapturedMail {
  id: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  reply_to: string[];
  subject: string;
  text: string | null;
  html: string | null;
  tags: { name: string; value: string }[];
  created_at: string;
}

export interface MailCapture {
  url: string;
  port: number;
  messages: CapturedMail[];
  stop(): Promise<void>;
}

export function startMailCapture(options?: { port?: number; host?: string }): Promise<MailCapture>;
