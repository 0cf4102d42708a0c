// What a service's spans say about the process that made them (OpenTelemetry resource attributes):
// `service.version` from SERVICE_VERSION (set by the image build) or the app's package.json, and
// `deployment.environment` from DEPLOYMENT_ENVIRONMENT (default "development").
import { readFileSync } from "node:fs";
import { join } from "node:path";

const APPS = join(import.meta.dir, "..", "..", "..", "apps");

/** The service's version: SERVICE_VERSION, else the `version` of apps/<service>/package.json, else "0.0.0". */
export function serviceVersion(service: string, env: Record<string, string | undefined> = process.env): string {
  if (env.SERVICE_VERSION) return env.SERVICE_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(join(APPS, service, "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** The deployment's name for traces (DEPLOYMENT_ENVIRONMENT, default "development"). */
export function deploymentEnvironment(env: Record<string, string | undefined> = process.env): string {
  return env.DEPLOYMENT_ENVIRONMENT || "development";
}
