// The `rosenpass` executable: a thin shell over RosenpassApp.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassApp

// Everything the command creates (the daemon, its keys) is released inside `main` before exit.
exit(RosenpassCLI.main(Array(CommandLine.arguments.dropFirst())))
