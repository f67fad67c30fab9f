/* POSIX: read a secret line from stdin, with echo off when it is a tty. */
#define _POSIX_C_SOURCE 200809L
#include "tl_common.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int tl_read_secret(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int n = tl_read_line(stdin, buf, cap);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    return n;
}
