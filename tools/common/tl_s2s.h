/* tl_s2s: the server side of the server-to-server challenge-response
 * (protocol/README.md, "Server-to-server authentication"), shared by the
 * chatserver and the masterserver, plus the shared secret's file.
 *
 * A link session must send s2s_hello{nonce_c}, get s2s_hello_result{nonce_s,
 * proof_s}, then send s2s_auth{proof_c}; before that nothing else is
 * accepted, and a session that has not authenticated within the timeout is
 * closed.  Every refusal answers PROTO_ERR_S2S_AUTH_FAILED (where there is a
 * packet to answer), closes, is counted and logs one rate-limited WARN line
 * naming the peer's address.  Per-session state lives in the session's ud
 * (the tools use none of their own); handlers of one session run one at a
 * time on its strand, so only the pending list (for the timeout sweep) is
 * shared and locked. */
#ifndef TL_S2S_H
#define TL_S2S_H

#include "netcore.h"
#include "proto_auth.h"
#include "proto_s2s.h"
#include "proto_packets.h"

#include <stdint.h>

typedef struct tl_s2s_s tl_s2s_t;

typedef struct tl_s2s_opts_s {
    const char *tag;  /* log tag of the tool: "chat", "master" */
    const char *name; /* our name in s2s_hello_result */
    /* the link key (pa_s2s_key of the secret); NULL = insecure: no
     * challenge, and only peers that send no nonce are accepted */
    const uint8_t *key;
    uint32_t timeout_ms;   /* connect to s2s_auth; 0 = 5000 */
    uint32_t max_sessions; /* sessions tracked at once; 0 = 1024 */
} tl_s2s_opts_t;

/* The sweep timer runs on a strand of q.  0 or a negative NC_E* code. */
int tl_s2s_create(nc_queue_t *q, nc_engine_t *e, const tl_s2s_opts_t *o, tl_s2s_t **out);
/* Stop order: nc_server_destroy, tl_s2s_stop (no sweep touches the engine
 * after it returns), nc_engine_destroy, nc_pool_destroy (a sweep job still
 * queued runs there and does nothing), tl_s2s_destroy. */
void tl_s2s_stop(tl_s2s_t *a);
void tl_s2s_destroy(tl_s2s_t *a);

/* Role handlers call these.  tl_s2s_packet returns:
 *  TL_S2S_PASS   the session is authenticated: handle m as usual;
 *  TL_S2S_JOINED it just authenticated (m was its s2s_auth, or its hello in
 *                insecure mode): *hello is its s2s_hello, valid until the
 *                handler returns; register the peer now;
 *  TL_S2S_DONE   consumed (a step of the handshake, or refused and closing). */
enum { TL_S2S_PASS = 0, TL_S2S_JOINED = 1, TL_S2S_DONE = 2 };
void tl_s2s_open(tl_s2s_t *a, nc_session_t *s);
int tl_s2s_packet(tl_s2s_t *a, nc_session_t *s, const proto_msg_t *m,
                  const proto_s2s_hello_t **hello);
void tl_s2s_close(tl_s2s_t *a, nc_session_t *s);

/* Sessions refused (bad proof, anything before auth, timeout, mode
 * mismatch) and authenticated, since start. */
uint64_t tl_s2s_refused(const tl_s2s_t *a);
uint64_t tl_s2s_accepted(const tl_s2s_t *a);
/* Logs the totals (at stop) and any rate-limited lines still held. */
void tl_s2s_log_totals(tl_s2s_t *a);

/* The shared secret: the first line of `path` (trailing CR/LF stripped, at
 * least PA_S2S_SECRET_MIN bytes, no NUL) -> key.  0, or -1 with a message in
 * err (which never contains the secret).  A file other users may read is
 * accepted with a WARN line (nc_file_is_private). */
int tl_s2s_load_key(const char *path, uint8_t key[PA_S2S_KEY_BYTES], char *err, size_t errlen);

/* Common flags of the link servers: `--secret-file FILE`,
 * `--insecure-no-link-auth` and `--auth-timeout-ms N` (100..600000).
 * tl_s2s_flag returns how many argv entries it used (2 or 1), 0 when
 * argv[i] is not one of them, -1 for a bad value. */
typedef struct tl_s2s_args_s {
    const char *secret_file;
    int insecure;
    uint32_t timeout_ms; /* 0 = 5000 */
} tl_s2s_args_t;
int tl_s2s_flag(tl_s2s_args_t *sa, int argc, char **argv, int i);
/* Resolves the flags into a key (secure) or NULL (insecure, with a loud
 * WARN).  0, or -1 after printing a clear message on stderr: no secret and
 * no --insecure-no-link-auth, both given, or an unreadable/short secret. */
int tl_s2s_key_from_args(const char *prog, const tl_s2s_args_t *sa, uint8_t key[PA_S2S_KEY_BYTES],
                         const uint8_t **key_out);

/* Client side, for tools that dial a link server (masterserver --list):
 * pa_s2s_client_hello / pa_s2s_client_result in proto_s2s.h. */

#endif
