/* Callgrind client requests for the benchmark loops (benchloop.h, benchcapi.c): the real ones when
   valgrind's header is installed (BENCH_CALLGRIND 1), no-ops otherwise (then no counts, only times).
   Outside valgrind a client request is a few no-op instructions, outside the measured loops. */
#ifndef BENCHCALLGRIND_H
#define BENCHCALLGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_CALLGRIND 1
#endif
#endif
#ifndef BENCH_CALLGRIND
#define BENCH_CALLGRIND 0
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(name)
#endif

#endif
