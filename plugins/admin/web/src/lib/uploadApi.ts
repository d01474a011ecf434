// The uploader's API calls over the app's urql client: typed results become tickets, typed errors ApiProblems
// (with field messages), and a request that never got an answer a transient ApiProblem the uploader retries.
import type { Client, CombinedError } from "urql";
import {
  AdminAssetStatusDocument,
  CompleteUploadDocument,
  CreateUploadDocument,
  ResumeUploadDocument,
} from "../gql/graphql";
import { problemOf, transportMessage } from "./results";
import { ApiProblem, type PartUrl, type UploadApi, type UploadMethod, type UploadTicket } from "./uploadPolicy";

function failure(error: CombinedError | undefined): ApiProblem {
  if (!error) return new ApiProblem("The API sent no answer.", {}, true);
  return new ApiProblem(transportMessage(error), {}, Boolean(error.networkError));
}

/** A typed error as an ApiProblem: the id's message (completeUpload, resumeUpload) reads better than "invalid input". */
function typed(result: Parameters<typeof problemOf>[0], fallback: string): ApiProblem {
  const problem = problemOf(result);
  if (!problem) return new ApiProblem(fallback);
  const { id, ...fields } = problem.fields;
  const message = id ?? (Object.keys(fields).length > 0 ? fallback : problem.message);
  return new ApiProblem(message, fields);
}

function parts(list: readonly { partNumber: number; url: string }[]): PartUrl[] {
  return list.map(({ partNumber, url }) => ({ partNumber, url }));
}

function stringFields(value: unknown): Record<string, string> | null {
  if (!value || typeof value !== "object") return null;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** A mutation's result, or the ApiProblem for an answer that has none (a failed request, or no answer at all). */
async function resultOf<Data, Result>(
  request: PromiseLike<{ data?: Data | undefined; error?: CombinedError | undefined }>,
  pick: (data: Data) => Result | null | undefined,
): Promise<Result> {
  const { data, error } = await request;
  const result = data ? pick(data) : undefined;
  if (!result) throw failure(error);
  return result;
}

export function uploadApi(client: Client): UploadApi {
  const options = { requestPolicy: "network-only" as const };
  return {
    async createUpload(input) {
      const request = client.mutation(CreateUploadDocument, { input }, options).toPromise();
      const result = await resultOf(request, (data) => data.createUpload);
      if (result.__typename !== "Upload") throw typed(result, "The file was not accepted.");
      const ticket: UploadTicket = {
        id: result.id,
        method: result.method as UploadMethod,
        url: result.url,
        formFields: stringFields(result.formFields),
        partSize: result.partSize === null ? null : Number(result.partSize),
        parts: parts(result.parts),
        assetId: result.asset.id,
        expiresAt: result.expiresAt,
      };
      return ticket;
    },
    async resumeUpload(id) {
      const request = client.mutation(ResumeUploadDocument, { id }, options).toPromise();
      const result = await resultOf(request, (data) => data.resumeUpload);
      if (result.__typename !== "Upload") throw typed(result, "The upload cannot be resumed.");
      return { partSize: Number(result.partSize), parts: parts(result.parts) };
    },
    async completeUpload(id) {
      const request = client.mutation(CompleteUploadDocument, { id }, options).toPromise();
      const result = await resultOf(request, (data) => data.completeUpload);
      if (result.__typename !== "Asset") throw typed(result, "The upload could not be completed.");
    },
    async assetStatus(assetId) {
      const { data } = await client.query(AdminAssetStatusDocument, { id: assetId }, options).toPromise();
      const node = data?.node;
      return node && "status" in node ? node.status : null;
    },
  };
}
