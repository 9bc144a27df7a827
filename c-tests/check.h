/* A minimal test harness: count checks, report failures with their line. */
#ifndef SIC_CHECK_H
#define SIC_CHECK_H

#include <stdio.h>

static int checks_passed;
static int checks_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      checks_passed++;                                                         \
    } else {                                                                   \
      checks_failed++;                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* The closing line CI reads; the exit status follows it. */
static int checks_report(void) {
  printf("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed == 0 ? 0 : 1;
}

#endif
