// The chat service's pure rules: room names and access, and message text limits.
export { canPost, canRead, parseRoom, type Room, type Viewer } from "./rooms";
export { codePoints, TEXT_MAX, TEXT_MAX_UTF16, TEXT_MIN, textProblem } from "./text";
