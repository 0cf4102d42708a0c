// Sign in and sign up: one form each, validated before sending, the server's problems shown field by
// field. Success adopts the session and goes back where the person came from (?next=).
import { A, useNavigate, useSearchParams } from "@solidjs/router";
import { createSignal, Show } from "solid-js";
import { fieldErrors, type ProblemDetails, toProblem } from "../api/problem";
import type { SessionBody } from "../api/session";
import { fieldMessages } from "../components/field-messages";
import { ProblemBox } from "../components/status";
import { useServices } from "../context";

function safeNext(next: string | undefined): string {
  // Only paths on this site: an open redirect would let a link send a fresh session elsewhere.
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function AuthForm(props: { mode: "signin" | "signup" }) {
  const { api } = useServices();
  const navigate = useNavigate();
  const [params] = useSearchParams<{ next?: string }>();
  const [name, setName] = createSignal("");
  const [email, setEmail] = createSignal("");
  const [password, setPassword] = createSignal("");
  const [sending, setSending] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [local, setLocal] = createSignal<Record<string, string>>({});
  const signup = () => props.mode === "signup";
  const errors = () => ({ ...fieldErrors(problem()), ...local() });
  const { invalid, FieldError } = fieldMessages(errors);

  async function submit(e: Event) {
    e.preventDefault();
    if (sending()) return;
    const out: Record<string, string> = {};
    if (signup() && !name().trim()) out.name = "Your name";
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email().trim())) out.email = "An email address, like you@example.com";
    if (signup() ? password().length < 8 : !password())
      out.password = signup() ? "At least 8 characters" : "Your password";
    setLocal(out);
    setProblem(null);
    if (Object.keys(out).length) return;
    setSending(true);
    try {
      const res = signup()
        ? await api.client.auth.register.post({ email: email().trim(), password: password(), name: name().trim() })
        : await api.client.auth.login.post({ email: email().trim(), password: password() });
      if (!res.data) {
        const p = toProblem(res.error);
        setProblem(res.status === 401 ? { ...p, title: "That email and password do not match an account." } : p);
        return;
      }
      api.session.adopt(res.data as unknown as SessionBody);
      navigate(safeNext(params.next), { replace: true });
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setSending(false);
    }
  }

  const field = (
    id: string,
    label: string,
    type: string,
    value: () => string,
    set: (v: string) => void,
    auto: string,
  ) => (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        type={type}
        autocomplete={auto}
        value={value()}
        onInput={(e) => set(e.currentTarget.value)}
        aria-invalid={invalid(id)}
        aria-describedby={`err-${id}`}
      />
      <FieldError field={id} />
    </>
  );

  return (
    <section class="narrow">
      <h1>{signup() ? "Create an account" : "Sign in"}</h1>
      <form class="panel" onSubmit={submit} noValidate>
        <Show when={signup()}>{field("name", "Name", "text", name, setName, "name")}</Show>
        {field("email", "Email", "email", email, setEmail, "email")}
        {field(
          "password",
          "Password",
          "password",
          password,
          setPassword,
          signup() ? "new-password" : "current-password",
        )}
        <ProblemBox problem={problem()} />
        <button type="submit" class="primary" disabled={sending()}>
          {sending() ? "…" : signup() ? "Create account" : "Sign in"}
        </button>
      </form>
      <p>
        <Show when={signup()} fallback={<A href="/signup">New here? Create an account</A>}>
          <A href="/signin">Already have an account? Sign in</A>
        </Show>
      </p>
    </section>
  );
}

export const SignIn = () => <AuthForm mode="signin" />;
export const SignUp = () => <AuthForm mode="signup" />;
