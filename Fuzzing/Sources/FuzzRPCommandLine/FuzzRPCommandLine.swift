// Fuzz target 6: `rp`'s command line (the reference's word grammar) and its exchange-config TOML.
//
// The input is split into words at NUL and newline bytes; the first byte says whether they are
// preceded by a subcommand, so the fuzzer need not find one.

import FuzzingSupport

@testable import RosenpassApp

let commands = ["exchange", "exchange-config", "genkey", "pubkey", "help", ""]

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = Int(input.byte())
    let words = input.rest().split(whereSeparator: { $0 == 0 || $0 == 0x0A }).map { String(decoding: $0, as: UTF8.self) }
    let command = commands[choice % commands.count]
    _ = try? RPCommandLine.parse(command.isEmpty ? words : [command] + words)
    if choice & 0x80 != 0 {
        _ = try? RPExchangeOptions.parse(words.joined(separator: "\n"), file: "rp.toml")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzRPCommandLine_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
