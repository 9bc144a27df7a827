/*
 * Loads the shared library the way a server loads a plug-in: dlopen by
 * path, resolve by name, refuse it when its ABI is not the one compiled for.
 */
#include <dlfcn.h>
#include <string.h>

#include "check.h"
#include "xmpp_sic.h"

typedef uint32_t (*abi_fn)(void);
typedef sic_status (*handle_fn)(const uint8_t *, size_t, const char *, size_t, const char *, size_t,
                                const struct sockaddr *, socklen_t, uint32_t, uint8_t *, size_t, size_t *);

int main(int argc, char **argv) {
  void *lib;
  abi_fn abi;
  handle_fn handle;
  if (argc != 2) {
    fprintf(stderr, "usage: %s path/to/libxmpp_sic.so\n", argv[0]);
    return 2;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL);
  if (!lib) {
    fprintf(stderr, "%s\n", dlerror());
    return checks_report();
  }
  /* POSIX allows converting dlsym's object pointer to a function pointer. */
  *(void **)&abi = dlsym(lib, "sic_abi_version");
  *(void **)&handle = dlsym(lib, "sic_handle_iq");
  CHECK(abi != NULL && handle != NULL);
  CHECK(dlsym(lib, "sic_no_such_symbol") == NULL);
  if (abi && handle) {
    static const char iq[] = "<iq id='d' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
    uint8_t out[1024];
    size_t len = 0;
    CHECK(abi() == SIC_ABI_VERSION);
    CHECK(handle((const uint8_t *)iq, strlen(iq), "a@b.example", 11, NULL, 0, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_OK);
    CHECK(len > 0 && memmem(out, len, "service-unavailable", 19) != NULL);
  }
  CHECK(dlclose(lib) == 0);
  return checks_report();
}
