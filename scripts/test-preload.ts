// Loaded once per `bun test` run: gives the run an id that test helpers put into database,
// stream and key names, so concurrent runs on one machine never collide.
process.env.CFA_TEST_RUN_ID ??= `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
