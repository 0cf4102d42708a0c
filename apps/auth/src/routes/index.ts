// Every auth route, mounted by createAuthApp.
export { authRoutes } from "./auth";
export { jwksRoutes } from "./jwks";
export { userRoutes } from "./users";
