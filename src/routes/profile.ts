import { OpenAPIHono, z } from "@hono/zod-openapi";
import { SESSION } from "../auth/access";
import { tooLarge, updateProfile } from "../auth/profile";
import type { AppEnv } from "../context";
import { route } from "./route";
import { json, UserSchema } from "./schemas";

/** A browser form with no file chosen sends an empty, unnamed file part: that means "no avatar". */
const noFileChosen = (v: unknown) => (v instanceof File && v.size === 0 && v.name === "" ? undefined : v);
const blankAsMissing = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

export const UpdateProfileForm = z
  .object({
    full_name: z
      .string({ error: "full_name must be a text field." })
      .trim()
      .min(1, "Full name is required.")
      .max(100, "Full name must be at most 100 characters.")
      .optional()
      .openapi({ example: "Ada Lovelace", description: "1 to 100 characters after trimming" }),
    avatar: z.preprocess(noFileChosen, z.instanceof(File, { message: "avatar must be a file." }).optional()).openapi({
      type: "string",
      format: "binary",
      description: "PNG, JPEG or WebP, at most AVATAR_MAX_BYTES (5 MiB); the type is read from the bytes",
    }),
    email: z.preprocess(blankAsMissing, z.string({ error: "email must be a text field." }).max(255).optional()).openapi({
      type: "string",
      example: "ada@example.com",
      description: "Optional; must be the logged-in user's email (it never selects the user)",
    }),
  })
  .openapi("UpdateProfileRequest");

const ProfileResponseSchema = z.object({ status: z.literal("success"), message: z.string(), user: UserSchema }).openapi("ProfileResponse", {
  example: {
    status: "success",
    message: "Profile updated.",
    user: {
      id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
      full_name: "Ada Lovelace",
      email: "ada@example.com",
      role: "student",
      avatar: "https://avatars.example.com/avatars/3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90/9b2e4f0c6a1d47e8b3c5d7f9a1b2c3d4.jpg",
      email_verified: true,
    },
  },
});

const updateProfileRoute = route({
  method: "post",
  path: "/update-profile",
  tags: ["Profile"],
  summary: "Change the caller's name and/or avatar",
  description:
    "At least one of full_name and avatar. The avatar's type is decided by its bytes (PNG, JPEG, WebP); it is stored in S3-compatible storage and `user.avatar` becomes its public URL.",
  limit: "RL_DEFAULT",
  auth: SESSION,
  multipart: { maxFileBytes: (c) => c.AVATAR_MAX_BYTES, tooLarge },
  errors: ["email_mismatch", "unsupported_image_type", "storage_error", "storage_unavailable"],
  request: {
    body: { content: { "multipart/form-data": { schema: UpdateProfileForm } }, required: true, description: "The changes" },
  },
  responses: { 200: json(ProfileResponseSchema, "Profile updated") },
});

export function profileRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(updateProfileRoute, async (c) => {
    const form = c.req.valid("form");
    const deps = c.get("deps");
    const max = deps.config.AVATAR_MAX_BYTES;
    if (form.avatar && form.avatar.size > max) throw tooLarge(max);
    const avatar = form.avatar ? { bytes: new Uint8Array(await form.avatar.arrayBuffer()) } : undefined;
    const user = await updateProfile(deps, c.get("meta"), c.get("auth"), { fullName: form.full_name, avatar, email: form.email });
    return c.json({ status: "success" as const, message: "Profile updated.", user }, 200);
  });
}
