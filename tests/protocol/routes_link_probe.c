/* Linked with the generated proto_routes.c of the fork fixture and no
 * handlers at all, on purpose: the link must fail and name every missing
 * content_on_<packet>, including the fixture's fork_wave (the test
 * routes_missing_handler_fails_link). */
#include "proto_routes.h"

int main(void)
{
    return proto_zone_dispatch(0, 0, 0, 0) + proto_session_dispatch(0, 0, 0, 0);
}
