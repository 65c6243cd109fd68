// Catch2's main for every test binary (natively and under node). Read next: tests/core/.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
