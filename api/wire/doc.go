// Package wire is the contract of Reliquary's HTTP API (openapi.yaml): the
// JSON request and response bodies of the routes and the error codes of
// the error envelope. The server (package api) encodes these types and the
// client (package api/client) decodes them, so a renamed field fails to
// compile in both. It imports only the standard library: a program that
// talks to Reliquary links nothing of the server.
package wire
