// Fuzz target 4: the configuration TOML of `rosenpass` and `rp exchange-config`, read by our reader
// and by TOMLKit (toml++) side by side (a differential check: the two must agree on every document
// both accept), then through the schema of each program.
//
// Checked beyond "no crash": the readers never disagree on a document both accept (that error
// says "disagree"), and a configuration that reads is written back as TOML that reads back equal.

import FuzzingSupport

@testable import RosenpassApp

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let which = input.byte()
    let text = String(decoding: input.rest(), as: UTF8.self)
    do {
        if which & 1 == 0 {
            let configuration = try Configuration.parse(text, file: "fuzz.toml", home: "/home/fuzz")
            let again = try Configuration.parse(configuration.tomlText, file: "written.toml", home: "/home/fuzz")
            guard again == configuration else { fatalError("a configuration does not read back equal after writing") }
        } else {
            _ = try RPExchangeOptions.parse(text, file: "fuzz.toml")
        }
    } catch {
        if "\(error)".contains("disagree") { fatalError("the TOML readers disagree: \(error)") }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
