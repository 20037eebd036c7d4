import Foundation
import Testing
import Model
import TestSupport

/// The default model, loaded once for the tests that need it.
enum TestModel {
    static let enabled = DefaultModel.testsEnabled
    static let missingNote = Comment(rawValue: DefaultModel.missingNote)

    static let loaded: Result<(ModelFile, DecoderModel), Error> = Result {
        let file = try ModelFile(path: DefaultModel.path)
        return (file, try DecoderModel(file: file))
    }
}
