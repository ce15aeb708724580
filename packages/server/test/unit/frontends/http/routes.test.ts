import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchRoute, routeParams } from '../../../../src/frontends/http/routes.js';
import { handleInfer } from '../../../../src/frontends/http/handlers/infer.js';
import { handleModelMetadata } from '../../../../src/frontends/http/handlers/metadata.js';
import { handleAllStatistics, handleModelStatistics } from '../../../../src/frontends/http/handlers/statistics.js';
import { handleNamedRepositoryControl, handleRepositoryIndex } from '../../../../src/frontends/http/handlers/repository.js';

function handlerOf(path: string, method: string): unknown {
  return matchRoute(path)?.route.methods[method];
}

describe('matchRoute', () => {
  it('captures model and version, with an empty version when absent', () => {
    assert.deepEqual(matchRoute('/v2/models/m/infer')?.params, ['m', '']);
    assert.deepEqual(matchRoute('/v2/models/m/versions/12/infer')?.params, ['m', '12']);
    assert.equal(handlerOf('/v2/models/m/versions/3/infer', 'POST'), handleInfer);
    assert.equal(handlerOf('/v2/models/m/versions/3', 'GET'), handleModelMetadata);
  });

  it('accepts no trailing segments', () => {
    assert.equal(matchRoute('/v2/models/m/versions/1/x'), undefined);
    assert.equal(matchRoute('/v2/models/m/infer/'), undefined);
    assert.equal(matchRoute('/v2/health/live/'), undefined);
    assert.equal(matchRoute('/v2/models/m/generate/'), undefined);
    assert.equal(matchRoute('/v2/models/m/generate_streams'), undefined);
  });

  it('parses a version segment, refusing a malformed one with Triton\'s text', () => {
    const params = (path: string): readonly string[] => routeParams(matchRoute(path)!);
    assert.deepEqual(params('/v2/models/m/infer'), ['m', '']);
    assert.deepEqual(params('/v2/models/m/versions/0012/ready'), ['m', '12']);
    assert.deepEqual(params('/v2/models/m/versions/9223372036854775807'), ['m', '9223372036854775807']);
    assert.throws(() => params('/v2/models/m/versions/abc/infer'), {
      code: 'INVALID_ARG',
      message:
        "failed to get model version from specified version string 'abc' (details: stol), version should be an " +
        'integral value > 0',
    });
    assert.throws(() => params('/v2/models/m/versions/-1/config'), {
      code: 'INVALID_ARG',
      message: "invalid model version specified '-1' , version should be an integral value > 0",
    });
    assert.deepEqual(params('/v2/repository/models/m/load'), ['m'], 'unversioned routes untouched');
  });

  it('gives /v2/models/stats to statistics, not to a model named "stats"', () => {
    assert.equal(handlerOf('/v2/models/stats', 'GET'), handleAllStatistics);
    assert.equal(handlerOf('/v2/models/m/stats', 'GET'), handleModelStatistics);
  });

  it('routes repository paths as Triton does', () => {
    assert.equal(handlerOf('/v2/repository/index', 'POST'), handleRepositoryIndex);
    assert.equal(handlerOf('/v2/repository/some_repo/index', 'POST'), handleRepositoryIndex);
    assert.deepEqual(matchRoute('/v2/repository/models/m/load')?.params, ['m']);
    assert.equal(handlerOf('/v2/repository/r/models/m/unload', 'POST'), handleNamedRepositoryControl);
  });

  it('lists only the methods an endpoint takes, whatever the method string', () => {
    assert.equal(handlerOf('/v2/models/m/infer', 'GET'), undefined);
    assert.equal(handlerOf('/v2/health/ready', 'POST'), undefined);
    assert.equal(handlerOf('/v2', 'constructor'), undefined);
    assert.equal(handlerOf('/v2', '__proto__'), undefined);
  });

  it('percent-decodes captured segments', () => {
    assert.deepEqual(matchRoute('/v2/models/my%20model/ready')?.params, ['my model', '']);
    assert.deepEqual(matchRoute('/v2/models/bad%zz/ready')?.params, ['bad%zz', '']);
  });
});
