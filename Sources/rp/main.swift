// The `rp` executable: a thin shell over RosenpassApp (`RPCLI`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassApp

// Everything the command creates (the interface, the daemon, its keys) is released inside `main`
// before exit.
exit(RPCLI.main(Array(CommandLine.arguments.dropFirst())))
