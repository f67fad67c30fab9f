/* Windows: read a secret line from stdin, with echo off on a console. */
#include "tl_common.h"

#include <stdio.h>
#include <windows.h>

int tl_read_secret(const char *prompt, char *buf, size_t cap)
{
    HANDLE h = GetStdHandle(STD_INPUT_HANDLE);
    DWORD mode = 0;
    int console = GetConsoleMode(h, &mode) != 0;
    if (console) {
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        SetConsoleMode(h, mode & ~(DWORD)ENABLE_ECHO_INPUT);
    }
    int n = tl_read_line(stdin, buf, cap);
    if (console) {
        SetConsoleMode(h, mode);
        fprintf(stderr, "\n");
    }
    return n;
}
