/*
 * fuzz_conf.c - libFuzzer target for the configuration parser.
 *
 * conf_parse() reads text straight from an operator's file, so it must
 * never crash or leak on any input.  Beyond what the sanitizers see, the
 * target checks the parser's promises: an error always comes with a
 * message naming the file, and an accepted configuration is complete.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/proto.h"
#include "shim/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_conf - what every accepted configuration must hold */
static void
check_conf(const struct conf *c)
{
	if (c->nservices == 0 || c->state_dir == NULL || c->ca_file == NULL)
		abort();
	for (size_t i = 0; i < c->nservices; i++) {
		const struct conf_service *s = &c->services[i];

		if (s->name == NULL || s->proto == NULL || s->nlisten == 0 ||
		    s->nlisten > CONF_MAX_LISTEN || s->upstream_host == NULL ||
		    s->upstream_port == 0 || s->helo_name == NULL ||
		    s->ca_file == NULL || s->level >= LEV_LAST ||
		    s->connect_timeout_ms == 0 || s->max_sessions == 0 ||
		    conf_find_service(c, s->name) != s)
			abort();
		for (size_t j = 0; j < s->nlisten; j++)
			if (s->listen[j].len == 0 ||
			    memchr(s->listen[j].text, '\0',
			    sizeof(s->listen[j].text)) == NULL)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_error	 err;
	struct conf		*c;

	c = conf_parse((const char *)data, size, "fuzz.conf", &err);
	if (c == NULL) {
		if (strncmp(err.msg, "fuzz.conf", 9) != 0 ||
		    memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		return 0;
	}
	check_conf(c);
	conf_unref(c);
	return 0;
}
