/* A valid shared object that is not an HPy extension (no HPy_MODINIT symbols). */
int not_hpy_answer(void) { return 42; }
