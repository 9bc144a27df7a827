# Builds, installs and demonstrates xmpp-sic; the tests run from scripts/test-all.sh.
#   make            the release libraries (cdylib + staticlib) and the header
#   make demo       feeds examples/sic1.xml through the library, prints the reply
#   make install PREFIX=/usr/local   shared lib with SONAME, static lib, header, pkg-config file
#   make c-tests    the C suites (ASan+UBSan, valgrind, dlopen, header as C99/C++)
#   make deb        Debian packages in target/debian/ (debian/; lintian must report no errors)

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
HEADER  := include/xmpp_sic.h
VERSION := $(shell sed -n 's/^\#define SIC_VERSION "\(.*\)"/\1/p' $(HEADER))
ABI     := $(shell sed -n 's/^\#define SIC_ABI_VERSION \([0-9]*\)/\1/p' $(HEADER))
RELEASE := target/release
LIBDIR  := $(DESTDIR)$(PREFIX)/lib

.PHONY: all lib demo install c-tests test clean deb
all: lib

lib:
	cargo build --release

$(RELEASE)/libxmpp_sic.a $(RELEASE)/libxmpp_sic.so: lib

$(RELEASE)/sic-demo: examples/sic_demo.c $(HEADER) lib
	$(CC) -std=c99 -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L -Iinclude -o $@ examples/sic_demo.c $(RELEASE)/libxmpp_sic.a -lpthread -ldl -lm

demo: $(RELEASE)/sic-demo
	$(RELEASE)/sic-demo --sender romeo@montague.lit/orchard --peer 192.168.4.1:12345 examples/sic1.xml

install: lib
	install -d $(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(RELEASE)/libxmpp_sic.so $(LIBDIR)/libxmpp_sic.so.$(ABI).$(VERSION)
	ln -sf libxmpp_sic.so.$(ABI).$(VERSION) $(LIBDIR)/libxmpp_sic.so.$(ABI)
	ln -sf libxmpp_sic.so.$(ABI) $(LIBDIR)/libxmpp_sic.so
	install -m 0644 $(RELEASE)/libxmpp_sic.a $(LIBDIR)/libxmpp_sic.a
	install -m 0644 $(HEADER) $(DESTDIR)$(PREFIX)/include/xmpp_sic.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' xmpp-sic.pc.in > $(LIBDIR)/pkgconfig/xmpp-sic.pc

c-tests: lib
	$(MAKE) -C c-tests all

test:
	scripts/test-all.sh

# Built from the working tree (debian/rules keeps cargo offline and its
# cache); .buildinfo and .changes land beside the packages, not in `..`.
DEB_OUT  := target/debian
DEB_ARCH  = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_VER   = $(shell dpkg-parsechangelog -S Version)
deb:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc \
		--buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
		--buildinfo-file=$(DEB_OUT)/xmpp-sic_$(DEB_VER)_$(DEB_ARCH).buildinfo \
		--changes-file=$(DEB_OUT)/xmpp-sic_$(DEB_VER)_$(DEB_ARCH).changes
	lintian --fail-on error $(DEB_OUT)/xmpp-sic_$(DEB_VER)_$(DEB_ARCH).changes

clean:
	cargo clean
	$(MAKE) -C c-tests clean
