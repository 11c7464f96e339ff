# The CRM: `make run` (the whole stack, for trying it) and `make test`
# (every suite, on its own stack). See README.md.

CC       ?= cc
PKGS     := fcgi libpq hiredis libjwt libcjson libsodium libcurl
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla -I. -Ibuild
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

CORE     := $(wildcard app/core/*.c) $(wildcard app/modules/*.c app/modules/*/*.c) \
            $(wildcard tenants/*.c) build/gen/embedded.c
OBJ      := $(patsubst %.c,build/obj/%.o,$(patsubst build/%,%,$(CORE)))
ASAN_OBJ := $(patsubst build/obj/%,build/asan/obj/%,$(OBJ))
PROGRAMS := crm-api crm-worker crmctl
EMBEDDED := $(wildcard sql/platform/*.sql sql/tenant/*.sql tenants/templates/*.json) docs/openapi.json
HEADERS  := $(wildcard app/core/*.h app/modules/*/*.h tenants/*.h tests/unit/*.h)
UNIT     := $(patsubst tests/unit/%.c,build/tests/unit/%,$(wildcard tests/unit/test_*.c))

# keep objects: they are reused by every program
.SECONDARY:

.PHONY: all asan unit run stop status test bench fmt lint clean setup web

all: $(PROGRAMS:%=build/bin/%)

asan: $(PROGRAMS:%=build/asan/bin/%)

unit: $(UNIT)

build/gen/embedded.c: scripts/embed.sh $(EMBEDDED)
	@mkdir -p $(@D)
	scripts/embed.sh $@

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) -c -o $@ $<

build/asan/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) -c -o $@ $<

build/bin/%: build/obj/app/%.o $(OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/asan/bin/%: build/asan/obj/app/%.o $(ASAN_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

# Unit tests link the whole core and run under the sanitizers.
build/tests/unit/%: build/asan/obj/tests/unit/%.o $(ASAN_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS) -lcmocka

setup:
	scripts/setup.sh

web:
	@if [ -f web/package.json ]; then scripts/web.sh; fi

run: setup
	$(MAKE) all web
	scripts/stack.sh start dev
	scripts/demo.sh dev

stop:
	scripts/stack.sh stop dev

status:
	scripts/stack.sh status dev

test: setup
	$(MAKE) asan unit web
	CRM_BIN_DIR=build/asan/bin scripts/test.sh

bench: setup
	$(MAKE) all
	scripts/bench.sh

fmt:
	clang-format -i app/*.c app/core/*.[ch] app/modules/*.c app/modules/*/*.[ch] tenants/*.[ch] tests/unit/*.[ch]

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -I. app tenants

clean:
	rm -rf build
