/* pipe: one-byte round trip between two processes through two pipes, free to
 * run on different CPUs (on a 1-vCPU guest this is two context switches). */
#include "pingpong.h"

int main(int argc, char **argv)
{
    return pingpong_main("pipe", argc, argv, 0);
}
