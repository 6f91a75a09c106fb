// Loaded by mocha before every test file: the developer's own sunoye settings must not leak in.
for (const name of Object.keys(process.env)) {
  if (
    name.startsWith('SUNOYE_') &&
    !name.startsWith('SUNOYE_TEST_') &&
    !name.startsWith('SUNOYE_REQUIRE_')
  ) {
    delete process.env[name];
  }
}
