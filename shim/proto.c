/*
 * proto.c - the registry of protocol plugins.
 *
 * Adding a protocol is one new file in plugins/ and one line here.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "plugins/proto.h"

extern const struct proto proto_smtp;
extern const struct proto proto_submission;
extern const struct proto proto_imap;
extern const struct proto proto_pop3;
extern const struct proto proto_xmpp_client;
extern const struct proto proto_xmpp_server;

static const struct proto *const protos[] = {
	&proto_smtp,
	&proto_submission,
	&proto_imap,
	&proto_pop3,
	&proto_xmpp_client,
	&proto_xmpp_server,
	NULL
};

/* proto_find - the plugin registered under name */
const struct proto *
proto_find(const char *name)
{
	for (size_t i = 0; protos[i] != NULL; i++)
		if (strcmp(protos[i]->name, name) == 0)
			return protos[i];
	return NULL;
}

/* proto_at - the i-th registered plugin, NULL past the last */
const struct proto *
proto_at(size_t i)
{
	for (size_t j = 0; j <= i; j++)
		if (protos[j] == NULL)
			return NULL;
	return protos[i];
}

/* proto_names - the registered names, for error messages */
const char *
proto_names(void)
{
	static char names[256];

	if (names[0] == '\0') {
		for (size_t i = 0; protos[i] != NULL; i++) {
			if (i > 0)
				strncat(names, ", ", sizeof(names) - strlen(names) - 1);
			strncat(names, protos[i]->name,
			    sizeof(names) - strlen(names) - 1);
		}
	}
	return names;
}

bool
proto_verb_is(const char *line, size_t len, const char *verb)
{
	size_t k = strlen(verb);

	if (len < k || strncasecmp(line, verb, k) != 0)
		return false;
	return len == k || line[k] == ' ' || line[k] == '\r' ||
	    line[k] == '\n';
}
