import { asHerdError } from '../../protocol/errors.ts';
import type { Message, NetworkCreate, NetworkList, NetworkRemove } from '../../protocol/messages.ts';
import { answer, answerError, type RequestContext } from './context.ts';

function answerWhenDone(context: RequestContext, work: Promise<Message>): void {
  work.then(
    (message) => answer(context, message),
    (err: unknown) => answerError(context, asHerdError(err)),
  );
}

export function listNetworks(_request: NetworkList, context: RequestContext): void {
  const { networks } = context.agent;
  answer(context, { t: 'networks', networks: networks.all().map((n) => networks.info(n)) });
}

export function createNetwork(request: NetworkCreate, context: RequestContext): void {
  answerWhenDone(context, context.agent.networks.create(request.network).then((info) => ({ t: 'networks', networks: [info] })));
}

export function removeNetwork(request: NetworkRemove, context: RequestContext): void {
  answerWhenDone(context, context.agent.networks.remove(request.name).then(() => ({ t: 'done' })));
}
