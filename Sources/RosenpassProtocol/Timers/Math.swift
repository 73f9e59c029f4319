// The two libm functions the retransmission schedule needs.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Android)
import Android
#endif

@inline(__always)
func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

@inline(__always)
func libmLog2(_ x: Double) -> Double { log2(x) }
