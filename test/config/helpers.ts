// Shared by the config tests: KIT's document as its template writes it, a fixed host, and a
// stand-in SSM endpoint (SSM has no emulator here) that answers GetParameter over the real protocol.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Test } from 'tap';
import type { ConfigEnvironment } from '../../src/config/index.js';

/** KIT's document exactly as its CloudFormation template writes it (one stream, one tag filter). */
export const KIT_JSON =
  `{"streamNames":["cam-1"], "tagFilters":[{"key":"Location","values":["Front","Parking"]}],` +
  `"sageMakerEndpoint":"hardhat-endpoint",
 "endPointAcceptContentType": "image/jpeg",
 "kdsStreamName":"kit-results","inferenceInterval":6,"sageMakerTaskQueueSize":5000,
 "sageMakerTaskThreadPoolSize":20,"sageMakerTaskTimeoutInMilli":20000,
 "sageMakerTaskThreadPoolName":"SageMakerThreadPool-%d"}`;

export const env: ConfigEnvironment = { hostname: 'ip-10-0-0-7', pid: 42, cpuCount: 3, randomSuffix: () => 'abc123' };

export interface SsmRequest {
  target: string | undefined;
  body: Record<string, unknown>;
}

/**
 * An HTTP server speaking SSM's awsJson1_1 protocol for GetParameter, holding `parameters`;
 * a missing name gets ParameterNotFound, as SSM answers. Returns a real SSMClient pointed at it.
 */
export async function ssmStub(
  t: Test,
  parameters: Record<string, string>,
): Promise<{ client: SSMClient; requests: SsmRequest[] }> {
  const requests: SsmRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const target = req.headers['x-amz-target'] as string | undefined;
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      requests.push({ target, body });
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'stub' });
        res.end(JSON.stringify(payload));
      };
      if (target !== 'AmazonSSM.GetParameter')
        return reply(400, { __type: 'UnknownOperationException', message: `no ${target}` });
      const name = body.Name as string;
      if (!Object.hasOwn(parameters, name))
        return reply(400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` });
      reply(200, {
        Parameter: { Name: name, Type: 'SecureString', Value: parameters[name], Version: 1, DataType: 'text' },
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = new SSMClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  t.teardown(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { client, requests };
}
