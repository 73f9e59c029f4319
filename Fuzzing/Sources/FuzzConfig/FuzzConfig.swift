// Fuzz target 4: the configuration TOML of `rosenpass` and `rp exchange-config`: our reader (the
// only one the programs ship) held to TOMLKit (toml++) by the differential oracle, then each
// program's schema.
//
// Checked beyond "no crash": our reader never accepts a document that toml++ refuses, nor reads one
// differently (`TOMLOracle`); and a configuration that reads is written back as TOML that reads
// back equal.

import FuzzingSupport
import RosenpassTOMLOracle

@testable import RosenpassApp

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let which = input.byte()
    let text = String(decoding: input.rest(), as: UTF8.self)
    switch TOMLOracle.judge(text) {
    case .agree, .oursRefuses: break
    case .oursLooser(let reason): fatalError("our TOML reader accepts what toml++ refuses: \(reason)")
    case .differ(let path, let line): fatalError("the TOML readers read '\(path)' (line \(line ?? 0)) differently")
    }
    do {
        if which & 1 == 0 {
            let configuration = try Configuration.parse(text, file: "fuzz.toml", home: "/home/fuzz")
            let again = try Configuration.parse(configuration.tomlText, file: "written.toml", home: "/home/fuzz")
            guard again == configuration else { fatalError("a configuration does not read back equal after writing") }
        } else {
            _ = try RPExchangeOptions.parse(text, file: "fuzz.toml")
        }
    } catch {}
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
