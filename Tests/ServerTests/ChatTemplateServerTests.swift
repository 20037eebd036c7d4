import Foundation
import Testing
import Model
import TestSupport
@testable import Server

/// Chat requests when the model has no chat template, or a configured one
/// that refuses the conversation: 400s that say why; raw prompts still work.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct ChatTemplateServerTests {
    func post(_ server: APIServer, _ route: String, _ body: String) throws -> (code: String, body: String) {
        let r = try Subprocess.run("/usr/bin/curl", ["-sS", "-w", "\n%{http_code}", "http://127.0.0.1:\(server.http.port)\(route)", "-d", body])
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
    }

    func stop(_ server: APIServer) {
        let done = DispatchSemaphore(value: 0)
        server.shutdown { done.signal() }
        done.wait()
    }

    @Test func aModelWithoutATemplateServesRawPromptsAndRefusesChat() throws {
        var c = Configuration.forTests(kvCacheBytes: 16 << 20)
        c.model = try DefaultModel.withoutChatTemplate()
        let server = try APIServer(configuration: c)
        defer { stop(server) }
        #expect(server.model.chatTemplate == nil)
        let raw = try post(server, "/v1/generate", #"{"prompt":"The capital of France is","max_tokens":2,"stream":false}"#)
        #expect(raw.code == "200")
        let completion = try post(server, "/v1/completions", #"{"prompt":"Hello","max_tokens":2}"#)
        #expect(completion.code == "200")
        let chat = #"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}"#
        for route in ["/v1/generate", "/v1/chat/completions"] {
            let r = try post(server, route, chat)
            #expect(r.code == "400" && r.body.contains("has no chat template") && r.body.contains("chat_template"), "\(route): \(r)")
        }
        let responses = try post(server, "/v1/responses", #"{"input":"Hi","max_output_tokens":2}"#)
        #expect(responses.code == "400" && responses.body.contains("has no chat template"))
    }

    @Test func aConfiguredTemplateThatRefusesAConversationGivesItsMessage() throws {
        var c = Configuration.forTests(kvCacheBytes: 16 << 20)
        c.model = try DefaultModel.withoutChatTemplate()
        c.chatTemplate = DefaultModel.repositoryRoot.appendingPathComponent("Tests/ModelTests/Fixtures/chat/jinja/google-gemma-2-2b-it.jinja").path
        let server = try APIServer(configuration: c)
        defer { stop(server) }
        #expect(server.model.chatTemplate?.endOfTurn == "<end_of_turn>")
        let ok = try post(server, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}"#)
        #expect(ok.code == "200")
        let system = #"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":2}"#
        for route in ["/v1/generate", "/v1/chat/completions"] {
            let r = try post(server, route, system)
            #expect(r.code == "400" && r.body.contains("System role not supported"), "\(route): \(r)")
        }
    }

    @Test func anUnusableConfiguredTemplateStopsStartUpNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-bad-\(getpid()).jinja")
        try "{% for m in messages %}\n{{ m.content | wordcount }}{% endfor %}".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var c = Configuration.forTests(kvCacheBytes: 16 << 20)
        c.chatTemplate = file.path
        do {
            _ = try APIServer(configuration: c)
            Issue.record("started")
        } catch {
            let text = "\(error)"
            #expect(text.contains(file.path) && text.contains("line 2") && text.contains("wordcount"), "\(text)")
        }
    }
}
