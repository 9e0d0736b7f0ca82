/* pare command-line interface: a thin layer over the library. */
#include "pare/pare.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("pare %s\n", PARE_VERSION);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("pare %s\n", PARE_VERSION);
        return 0;
    }
    fprintf(stderr, "pare: unknown command '%s'\n", argv[1]);
    return 2;
}
