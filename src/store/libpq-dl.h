/* libpq, loaded on first use with dlopen() rather than linked.
 *
 * libpq pulls in OpenSSL, Kerberos, LDAP and more: some 20 libraries that
 * every `netdep` run would map and relocate, adding milliseconds to each
 * start and megabytes to the RSS of verbs that never touch PostgreSQL (a
 * `netdep flows` at 200k sockets went from 7.8 to 13.7 MiB). systemd does
 * the same for its optional libraries.
 *
 * Include this instead of <libpq-fe.h>: every PQ* function used is then a
 * pointer filled by pq_dlopen(), which must succeed before any is called. */
#pragma once

#include <libpq-fe.h>
#include <stddef.h>

#define PQ_FUNCTIONS(X)                                                         \
        X(PQclear)                                                              \
        X(PQcmdTuples)                                                          \
        X(PQconnectdbParams)                                                    \
        X(PQconninfoFree)                                                       \
        X(PQconninfoParse)                                                      \
        X(PQconsumeInput)                                                       \
        X(PQenterPipelineMode)                                                  \
        X(PQerrorMessage)                                                       \
        X(PQexec)                                                               \
        X(PQexecParams)                                                         \
        X(PQexecPrepared)                                                       \
        X(PQexitPipelineMode)                                                   \
        X(PQfformat)                                                            \
        X(PQfinish)                                                             \
        X(PQfreemem)                                                            \
        X(PQgetResult)                                                          \
        X(PQgetlength)                                                          \
        X(PQgetvalue)                                                           \
        X(PQisBusy)                                                             \
        X(PQnfields)                                                            \
        X(PQntuples)                                                            \
        X(PQpipelineSync)                                                       \
        X(PQprepare)                                                            \
        X(PQresultErrorField)                                                   \
        X(PQresultErrorMessage)                                                 \
        X(PQresultStatus)                                                       \
        X(PQsendPrepare)                                                        \
        X(PQsendQueryParams)                                                    \
        X(PQsendQueryPrepared)                                                  \
        X(PQserverVersion)                                                      \
        X(PQsetNoticeProcessor)                                                 \
        X(PQstatus)                                                             \
        X(PQtransactionStatus)

#define PQ_DECLARE(f) extern __typeof__(f) *sym_##f;
PQ_FUNCTIONS(PQ_DECLARE)
#undef PQ_DECLARE

/* Loads libpq.so.5 once (thread-safe). Returns 0, or -EOPNOTSUPP with the
 * reason in errbuf. */
int pq_dlopen(char *errbuf, size_t size);

/* From here on, calls go through the pointers (not in libpq-dl.c, which
 * fills them). */
#ifndef PQ_DL_IMPLEMENTATION
#define PQclear sym_PQclear
#define PQcmdTuples sym_PQcmdTuples
#define PQconnectdbParams sym_PQconnectdbParams
#define PQconninfoFree sym_PQconninfoFree
#define PQconninfoParse sym_PQconninfoParse
#define PQconsumeInput sym_PQconsumeInput
#define PQenterPipelineMode sym_PQenterPipelineMode
#define PQerrorMessage sym_PQerrorMessage
#define PQexec sym_PQexec
#define PQexecParams sym_PQexecParams
#define PQexecPrepared sym_PQexecPrepared
#define PQexitPipelineMode sym_PQexitPipelineMode
#define PQfformat sym_PQfformat
#define PQfinish sym_PQfinish
#define PQfreemem sym_PQfreemem
#define PQgetResult sym_PQgetResult
#define PQgetlength sym_PQgetlength
#define PQgetvalue sym_PQgetvalue
#define PQisBusy sym_PQisBusy
#define PQnfields sym_PQnfields
#define PQntuples sym_PQntuples
#define PQpipelineSync sym_PQpipelineSync
#define PQprepare sym_PQprepare
#define PQresultErrorField sym_PQresultErrorField
#define PQresultErrorMessage sym_PQresultErrorMessage
#define PQresultStatus sym_PQresultStatus
#define PQsendPrepare sym_PQsendPrepare
#define PQsendQueryParams sym_PQsendQueryParams
#define PQsendQueryPrepared sym_PQsendQueryPrepared
#define PQserverVersion sym_PQserverVersion
#define PQsetNoticeProcessor sym_PQsetNoticeProcessor
#define PQstatus sym_PQstatus
#define PQtransactionStatus sym_PQtransactionStatus
#endif
