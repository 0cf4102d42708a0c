// RFC 9457 problem details as the gateway sends them, read from any failed call so a form can show
// each field's message next to the field and the rest as one sentence.

export interface ProblemDetails {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/** Eden's `error` ({ status, value }) or a thrown fetch failure → one problem to show. */
export function toProblem(error: unknown): ProblemDetails {
  if (error && typeof error === "object" && "status" in error && "value" in error) {
    const { status, value } = error as { status: number; value: unknown };
    if (value && typeof value === "object" && "title" in value) return { ...(value as ProblemDetails), status };
    return { title: typeof value === "string" && value ? value : `The server answered ${status}`, status };
  }
  return { title: "The platform could not be reached. Check your connection and try again.", status: 0 };
}

/** Field messages keyed by the last segment of their JSON path ("/donor/email" → "email"). */
export function fieldErrors(problem: ProblemDetails | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of problem?.errors ?? []) {
    const key = e.path.split("/").filter(Boolean).join(".") || "_";
    out[key] ??= e.message;
  }
  return out;
}
