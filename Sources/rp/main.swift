// The `rp` executable: a thin shell over RosenpassApp (`RPCLI`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassApp
import RosenpassSecureMemory

// The process holds key material: no core dump, no ptrace or /proc/PID/mem by its own user either.
SecureMemory.makeProcessUndumpable()
// Everything the command creates (the interface, the daemon, its keys) is released inside `main`
// before exit.
exit(RPCLI.main(Array(CommandLine.arguments.dropFirst())))
