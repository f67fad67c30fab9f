/* masterserver internals shared by the server (masterserver.c) and the
 * `--list HOST:PORT` client (master_list.c). */
#ifndef MASTER_H
#define MASTER_H

#include <stdint.h>

/* Connects to host:port, authenticates the link with key (the s2s key;
 * NULL = insecure), sends shard_list_request, prints the table on stdout.
 * Returns the process exit code. */
int master_list_main(const char *hostport, const uint8_t *key, int timeout_ms);

#endif
