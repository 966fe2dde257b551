// STREAM-style memory bandwidth, native, for the decode roofline (bench/bandwidth.ts compiles
// it with `cc -O3 -march=native -pthread`; never part of the app). The same two operations as
// stream.wat: `read` sums every 32-bit word of the buffer (what decode does to its weights),
// `copy` copies one buffer to another; T threads each take a contiguous slice, and a rep is
// timed from the barrier all threads leave together to the barrier they all reach. Prints one
// JSON line: the best rep of each, in bytes per second (copy counts bytes read + written).
//
//   stream THREADS MIB REPS
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t *src, *dst;
static size_t words;  // per buffer
static int threads, reps;
static pthread_barrier_t barrier;
static double best_read = 1e30, best_copy = 1e30;
static volatile uint32_t sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  int index = (int)(intptr_t)arg;
  size_t slice = words / threads, first = slice * index, end = index == threads - 1 ? words : first + slice;
  for (int rep = 0; rep < reps; rep++) {
    double t0 = 0;
    pthread_barrier_wait(&barrier);
    if (index == 0) t0 = now();
    uint32_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = first; i + 4 <= end; i += 4) {
      a += src[i];
      b += src[i + 1];
      c += src[i + 2];
      d += src[i + 3];
    }
    sink += a + b + c + d;
    pthread_barrier_wait(&barrier);
    if (index == 0) {
      double seconds = now() - t0;
      if (seconds < best_read) best_read = seconds;
    }
    pthread_barrier_wait(&barrier);
    if (index == 0) t0 = now();
    for (size_t i = first; i < end; i++) dst[i] = src[i];
    pthread_barrier_wait(&barrier);
    if (index == 0) {
      double seconds = now() - t0;
      if (seconds < best_copy) best_copy = seconds;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: stream THREADS MIB REPS\n");
    return 2;
  }
  threads = atoi(argv[1]);
  size_t mib = (size_t)atol(argv[2]);
  reps = atoi(argv[3]);
  if (threads < 1 || threads > 256 || mib < 1 || mib > 65536 || reps < 1 || reps > 1000) {
    fprintf(stderr, "stream: THREADS 1..256, MIB 1..65536, REPS 1..1000\n");
    return 2;
  }
  words = mib * 1024 * 1024 / 4;
  src = aligned_alloc(64, words * 4);
  dst = aligned_alloc(64, words * 4);
  if (!src || !dst) {
    fprintf(stderr, "stream: out of memory for 2 x %zu MiB\n", mib);
    return 1;
  }
  for (size_t i = 0; i < words; i++) src[i] = (uint32_t)i, dst[i] = 0;  // touch every page first
  pthread_barrier_init(&barrier, NULL, threads);
  pthread_t ids[256];
  for (int t = 1; t < threads; t++) pthread_create(&ids[t], NULL, run, (void *)(intptr_t)t);
  run(0);
  for (int t = 1; t < threads; t++) pthread_join(ids[t], NULL);
  double bytes = (double)words * 4;
  printf("{\"threads\":%d,\"mib\":%zu,\"readBytesPerSecond\":%.0f,\"copyBytesPerSecond\":%.0f,\"sink\":%u}\n", threads, mib,
         bytes / best_read, 2 * bytes / best_copy, sink);
  return 0;
}
