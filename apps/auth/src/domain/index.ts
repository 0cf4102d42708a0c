// Pure rules of the auth service: email identity, opaque token handling, refresh rotation.
export * from "./email";
export * from "./refresh";
export * from "./tokens";
