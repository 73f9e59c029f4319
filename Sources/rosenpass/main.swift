// The `rosenpass` executable: a thin shell over RosenpassApp.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassApp
import RosenpassSecureMemory

// The process holds key material: no core dump, no ptrace or /proc/PID/mem by its own user either.
SecureMemory.makeProcessUndumpable()
// Everything the command creates (the daemon, its keys) is released inside `main` before exit.
exit(RosenpassCLI.main(Array(CommandLine.arguments.dropFirst())))
