/* Peer addresses as a server's accept() would fill them, for the tests. */
#ifndef SIC_SOCKADDRS_H
#define SIC_SOCKADDRS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static struct sockaddr_in v4(const char *ip, unsigned short port) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return sin;
}

static struct sockaddr_in6 v6(const char *ip, unsigned short port) {
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sin6.sin6_addr);
  return sin6;
}

#endif
