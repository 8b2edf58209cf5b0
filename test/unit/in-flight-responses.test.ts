import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { InFlightResponses } from '../../src/gateway';

const response = (): ServerResponse => new ServerResponse(new IncomingMessage(new Socket()));

describe('InFlightResponses (what a drain tells to close their connection)', () => {
  it('holds what was added and not yet deleted, whatever the order', () => {
    const inFlight = new InFlightResponses();
    const [a, b, c, d] = [response(), response(), response(), response()];
    for (const res of [a, b, c, d]) inFlight.add(res);
    inFlight.delete(b);
    expect(new Set(inFlight.all())).toEqual(new Set([a, c, d]));
    inFlight.delete(d);
    inFlight.delete(a);
    expect(inFlight.all()).toEqual([c]);
    inFlight.add(a);
    inFlight.delete(c);
    expect(inFlight.all()).toEqual([a]);
    inFlight.delete(a);
    expect(inFlight.all()).toEqual([]);
  });

  it('deleting twice, or what was never added, changes nothing', () => {
    const inFlight = new InFlightResponses();
    const [a, b] = [response(), response()];
    inFlight.add(a);
    inFlight.add(b);
    inFlight.delete(a);
    inFlight.delete(a);
    inFlight.delete(response());
    expect(inFlight.all()).toEqual([b]);
  });
});
