// assertThrowsExactly: the error-path assertion every test target uses, so that "exact
// error text" means the same check everywhere: the typed value and its one-line
// description.

import XCTest

/// Fails unless `body` throws exactly `expected` with exactly the description `text`.
public func assertThrowsExactly<E: Error & Equatable>(_ expected: E, _ text: String, file: StaticString = #filePath,
                                                      line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("no error; expected \(text)", file: file, line: line)
    } catch let e as E {
        XCTAssertEqual(e, expected, file: file, line: line)
        XCTAssertEqual("\(e)", text, file: file, line: line)
    } catch {
        XCTFail("unexpected \(type(of: error)): \(error)", file: file, line: line)
    }
}
