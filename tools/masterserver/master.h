/* masterserver internals shared by the server (masterserver.c) and the
 * `--list HOST:PORT` client (master_list.c). */
#ifndef MASTER_H
#define MASTER_H

/* Connects to host:port, sends shard_list_request, prints the table on
 * stdout.  Returns the process exit code. */
int master_list_main(const char *hostport, int timeout_ms);

#endif
