import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("LiteLLM regions")
struct LiteLLMRegionTests {
    @Test(arguments: [
        ("https://bedrock-runtime.us-east-1.amazonaws.com", "us-east-1"),
        ("https://bedrock-runtime.eu-central-1.amazonaws.com/model/anthropic.claude", "eu-central-1"),
        ("https://us-central1-aiplatform.googleapis.com/v1/projects/p", "us-central1"),
        ("https://api.openai.com/v1", nil),
        ("https://my-resource.openai.azure.com", nil),
        ("", nil),
    ] as [(String, String?)])
    func readsTheRegionOfCloudEndpoints(base: String, region: String?) {
        #expect(LiteLLMMapping.region(fromAPIBase: base) == region)
    }

    @Test func prefersTheRegionTagThenMetadataThenTheEndpoint() throws {
        var entry = LiteLLMEntry()
        entry.startTime = Timestamp(seconds: 1_795_428_000)
        entry.model = "claude-sonnet-4-5"
        entry.apiBase = "https://bedrock-runtime.us-west-2.amazonaws.com"
        #expect(try LiteLLMMapping.request(entry)?.region == "us-west-2")
        entry.metadata.region = "eu-west-1"
        #expect(try LiteLLMMapping.request(entry)?.region == "eu-west-1")
        entry.requestTags = ["region": "eu-central-1"]
        #expect(try LiteLLMMapping.request(entry)?.region == "eu-central-1")
    }
}
