import { webhookUrlProblem } from '../../src/notifications/webhookUrl';

describe('creator webhook URLs', () => {
  const strict = { allowPrivate: false };
  it.each([
    'https://hooks.example.com/pledgeflow',
    'https://203.0.113.10:8443/hook',
    'https://[2001:db8::1]/hook',
  ])('accepts the public https endpoint %s', (url) => {
    expect(webhookUrlProblem(url, strict)).toBeUndefined();
  });

  it.each([
    ['http://hooks.example.com/x', 'https'],
    ['https://localhost/x', 'public host'],
    ['https://api.localhost/x', 'public host'],
    ['https://127.0.0.1/x', 'public address'],
    ['https://10.1.2.3/x', 'public address'],
    ['https://172.20.0.1/x', 'public address'],
    ['https://192.168.1.1/x', 'public address'],
    ['https://169.254.169.254/latest/meta-data', 'public address'],
    ['https://100.64.0.1/x', 'public address'],
    ['https://0.0.0.0/x', 'public address'],
    ['https://[::1]/x', 'public address'],
    ['https://[fd00::1]/x', 'public address'],
    ['https://[::ffff:127.0.0.1]/x', 'public address'],
    ['https://user:secret@hooks.example.com/x', 'credentials'],
    ['ftp://hooks.example.com/x', 'https'],
    ['not a url', 'absolute URL'],
  ])('refuses %s in production', (url, reason) => {
    expect(webhookUrlProblem(url, strict)).toContain(reason);
  });

  it('lets development and tests deliver to local receivers over http', () => {
    expect(webhookUrlProblem('http://127.0.0.1:4000/hook', { allowPrivate: true })).toBeUndefined();
    expect(webhookUrlProblem('ftp://127.0.0.1/hook', { allowPrivate: true })).toContain('http');
  });
});
