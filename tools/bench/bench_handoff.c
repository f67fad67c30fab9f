/* bench_handoff: what one thread-to-thread hand-off costs on this machine.
 * Two threads pass a token back and forth with a mutex and a condition
 * variable (what an idle pool worker sleeps on), both on one CPU and on two.
 * Each pass is a wake-up and, on one CPU, a context switch.  It calibrates
 * the echo benchmark: netcore hands every I/O batch from the I/O thread to
 * a worker and back, libuv's single thread never does.  Not a test. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, passes;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void play(int me)
{
    for (int i = 0; i < passes; i++) {
        pthread_mutex_lock(&mu);
        while (turn != me)
            pthread_cond_wait(&cv, &mu);
        turn = !me;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

static void *other(void *arg)
{
    pin(*(int *)arg);
    play(1);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns nanoseconds per hand-off with the two threads on cpu_a, cpu_b. */
static double run(int cpu_a, int cpu_b)
{
    pthread_t t;
    turn = 0;
    pin(cpu_a);
    pthread_create(&t, NULL, other, &cpu_b);
    double t0 = now_s();
    play(0);
    pthread_join(t, NULL);
    return (now_s() - t0) * 1e9 / (2.0 * passes);
}

int main(int argc, char **argv)
{
    passes = argc > 1 ? atoi(argv[1]) : 200000;
    if (passes < 1) {
        fprintf(stderr, "usage: bench_handoff [passes=200000]\n");
        return 2;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_handoff: %d passes each way, mutex + condition variable\n\n", passes);
    printf("| threads on | ns per hand-off |\n|---|---:|\n");
    printf("| one CPU (a context switch each) | %.0f |\n", run(0, 0));
    if (ncpu > 1)
        printf("| two CPUs (a cross-CPU wake-up each) | %.0f |\n", run(0, 1));
    return 0;
}
