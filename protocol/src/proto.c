/* Protocol runtime: message tables for codec errors (PROTO_E*) and game
 * result codes (PROTO_ERR_*).  The codecs themselves are generated. */
#include "proto.h"

const char *proto_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
#define PROTO_X_(name, val, msg)                                                                   \
    case PROTO_##name: return msg;
        PROTO_ERRNO_MAP(PROTO_X_)
#undef PROTO_X_
    default: return "unknown protocol error";
    }
}

const char *proto_err_text(int code)
{
    switch (code) {
#define PROTO_X_(name, val, msg)                                                                   \
    case PROTO_ERR_##name: return msg;
        PROTO_ERR_MAP(PROTO_X_)
#undef PROTO_X_
    default: return "unknown error code";
    }
}
