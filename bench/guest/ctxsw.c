/* ctxsw: the pipe ping-pong with both processes pinned to one CPU, reported
 * per context switch (half a round trip). Differs from `pipe` only on hosts
 * or guests with more than one CPU. */
#include "pingpong.h"

int main(int argc, char **argv)
{
    return pingpong_main("ctxsw", argc, argv, 1);
}
