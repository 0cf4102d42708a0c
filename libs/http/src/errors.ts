// One error family for every service: AppError carries an HTTP status, a stable code and a
// title; the error plugin turns it (and framework errors) into RFC 9457 problem+json.
import { DEFAULT_RETRY_AFTER_SECONDS } from "@careforall/resilience";

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const PROBLEM_BASE = "https://careforall.dev/problems/";

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extensions: Record<string, unknown> | undefined;

  constructor(options: {
    status: number;
    code: string;
    title: string;
    detail?: string;
    errors?: FieldError[];
    headers?: Record<string, string>;
    extensions?: Record<string, unknown>;
  }) {
    super(options.detail ?? options.title);
    this.name = "AppError";
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extensions = options.extensions;
  }

  toProblem(): ProblemDetails {
    return {
      ...this.extensions,
      type: PROBLEM_BASE + this.code,
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new AppError({ status: 400, code: "validation", title: "Invalid request", detail, ...(errors ? { errors } : {}) });
export const malformedBody = (detail: string) =>
  new AppError({ status: 400, code: "malformed-body", title: "Malformed request body", detail });
export const unauthorized = (detail = "Authentication is required") =>
  new AppError({
    status: 401,
    code: "unauthorized",
    title: "Unauthorized",
    detail,
    headers: { "www-authenticate": "Bearer" },
  });
export const paymentRequired = (detail: string) =>
  new AppError({ status: 402, code: "payment-required", title: "Payment refused", detail });
export const forbidden = (detail = "You are not allowed to do this") =>
  new AppError({ status: 403, code: "forbidden", title: "Forbidden", detail });
export const notFound = (detail = "Not found") =>
  new AppError({ status: 404, code: "not-found", title: "Not found", detail });
export const conflict = (detail: string, code = "conflict") =>
  new AppError({ status: 409, code, title: "Conflict", detail });
export const payloadTooLarge = (limit: number) =>
  new AppError({
    status: 413,
    code: "payload-too-large",
    title: "Payload too large",
    detail: `The request body exceeds ${limit} bytes`,
  });
export const unprocessable = (detail: string, code = "unprocessable") =>
  new AppError({ status: 422, code, title: "Unprocessable request", detail });
export const tooManyRequests = (retryAfterSeconds: number) =>
  new AppError({
    status: 429,
    code: "rate-limited",
    title: "Too many requests",
    detail: `Retry after ${retryAfterSeconds} seconds`,
    headers: { "retry-after": String(retryAfterSeconds) },
  });
/** 503, with the Retry-After every client of ours honours (DEFAULT_RETRY_AFTER_SECONDS unless the caller knows better). */
export const serviceUnavailable = (detail: string, retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS) =>
  new AppError({
    status: 503,
    code: "unavailable",
    title: "Service unavailable",
    detail,
    headers: { "retry-after": String(retryAfterSeconds) },
  });

export function problemResponse(problem: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { ...headers, "content-type": PROBLEM_CONTENT_TYPE },
  });
}
